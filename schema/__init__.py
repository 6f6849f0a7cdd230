"""GraphQL declarations: what the client sees."""
