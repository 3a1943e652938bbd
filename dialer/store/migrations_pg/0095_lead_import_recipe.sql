-- PostgreSQL twin of migrations/0095_lead_import_recipe.sql.
ALTER TABLE lead_imports ADD COLUMN recipe TEXT;
CREATE INDEX lead_imports_sha_recipe ON lead_imports (file_sha256, recipe);
