"""faust workers: raw calls in, normalised and encrypted rows into ClickHouse."""
