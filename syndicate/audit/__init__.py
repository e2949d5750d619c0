"""Audit: read-only over both logs. Trail per item, replay as of a time, an RFC 6962 Merkle
tree over every stored event with signed checkpoints, offline verification, cross-outlet
consistency, statutory deadlines and reports.
"""
