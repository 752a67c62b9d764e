"""`cxrmt infer`: every output of the model for radiographs on disk, in the documented layout."""
