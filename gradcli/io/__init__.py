"""Input and output: values given inline or as JSON, CSV tables, saved model files, and
output files written atomically. Readers check every value and name where a defect is.
"""
