"""The three ingestion methods (S2S postback, pixel, batch file) and the one normalized event."""
