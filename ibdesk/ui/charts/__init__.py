"""Live charts: candles and volume over a numpy series, with the trader's orders on them."""
