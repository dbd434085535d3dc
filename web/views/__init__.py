"""Server-rendered pages (jinja2), one module per area."""
