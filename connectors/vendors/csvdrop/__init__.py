"""CSV file drops: `normalise` (the file's records and their documents, pure) and the `adapter`."""
