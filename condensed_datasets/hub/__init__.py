"""Where sets travel: the published-sets pins and the verified download. Imports `core` only."""
