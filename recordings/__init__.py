"""Recordings: storage and conversion of call audio; knows calls only by id."""
