-- What besides the file's bytes decided an import's result (dialer.domain.leads.template.import_recipe):
-- the import rules' version, --source, --owner, the phone region, the dealer's time zone and the
-- cell length limit. The same bytes imported with the same recipe are recognised and skipped
-- (docs/leads-import.md, "Importing the same file again"); runs before this migration have none,
-- so their files are read once more, never wrongly skipped.
ALTER TABLE lead_imports ADD COLUMN recipe TEXT;
CREATE INDEX lead_imports_sha_recipe ON lead_imports (file_sha256, recipe);
