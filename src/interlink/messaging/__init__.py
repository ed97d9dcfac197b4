"""Messaging above the Broker seam, written once for every backend: the transactional inbox."""
