"""Server-rendered pages for people who will never use an API client."""
