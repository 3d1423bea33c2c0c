"""Score fusion, calibration and cross-modal reranking of candidate lists."""
