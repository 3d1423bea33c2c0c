"""File -> units (text chunks, images, audio segments) -> vectors -> store."""
