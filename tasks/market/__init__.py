"""Market data: fetching and storing daily bars, latest prices, price alerts, batch refreshes."""
