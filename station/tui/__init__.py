"""The station's Textual UI. Imports services' results and errors, never SQLAlchemy."""
