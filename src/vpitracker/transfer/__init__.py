"""Spreadsheet import and export (CSV, XLSX, JSON Lines)."""
