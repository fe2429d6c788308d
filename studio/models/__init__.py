"""Qt item models over engine entities (the tables' data; no widgets here)."""
