"""Request and response schemas of the admin API: separate Create, Update and Read models."""
