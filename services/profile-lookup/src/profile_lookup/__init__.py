"""profile-lookup: identifies the sender of each contact and attaches their profile and history."""
