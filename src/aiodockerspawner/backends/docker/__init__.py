"""The Docker layer both backends share: clients, the events cache, pulls and the sweep."""
