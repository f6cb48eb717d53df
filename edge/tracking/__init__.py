"""Faces across frames: the tracker that links them to people, the schedule that decides
whom to classify again, and the event payload (new / update / end).

May import: ``maskwatch.vision`` and ``maskwatch.core``; never ``publish`` or ``service``.
"""
