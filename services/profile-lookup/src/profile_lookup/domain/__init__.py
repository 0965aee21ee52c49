"""Pure rules of profile-lookup: normalisation, identification, history. No I/O imports."""
