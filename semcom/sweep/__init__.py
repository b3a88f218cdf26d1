"""`semcom sweep`: evaluation grids on this machine or a Ray cluster, into a store of one result per cell."""
