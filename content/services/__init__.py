"""Writes in content, a module per subject: `articles` (imports from the newsroom's CMS),
`campaigns` (counting gifts and memberships towards a campaign's goal)."""
