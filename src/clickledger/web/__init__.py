"""Server-rendered pages: the affiliate portal and the manager console."""
