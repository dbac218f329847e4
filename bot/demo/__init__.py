"""`feedbackbot demo`'s platform-neutral parts: the story, its clock, and how it is played."""
