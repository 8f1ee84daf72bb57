"""Architecture plug-ins defined only for the tests (registered through OPENUNMIX_ARCHITECTURES)."""
