"""Running a batch: the runner (plan, execute, commit for each pass: :mod:`.runner`), the pure per-entry work
of pass 1 (:mod:`.work`), the executors that run pure work here, in a process pool or on Ray
(:mod:`.executors`, :mod:`.ray_executor`), a run's cache keys (:mod:`.keys`) and what surrounds a run for an
operator (:mod:`.runguard`: one run per workspace, a clean stop on a full disk).

Nothing is imported here: a pool worker imports this package before it may import numpy.
"""
