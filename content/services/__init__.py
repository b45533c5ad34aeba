"""Writes in content, a module per subject: `articles` (imports from the newsroom's CMS)."""
