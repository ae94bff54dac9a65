"""The accounts app's pages, one module per subject; accounts.urls imports each module."""
