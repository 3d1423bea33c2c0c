"""The search page: static HTML, one JS module and one stylesheet, served by rag.api.page."""
