"""The web console driven through headless Chromium against the running service and the real lab."""
