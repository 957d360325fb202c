"""Every change of a job's state, one module per family.

  submit     new jobs, placed at their priority's end of the queue
  move       a waiting job within its queue or to another one
  hold       hold and release (a held job keeps its place and is skipped)
  cancel     a waiting job finished as cancelled; a running one asked to stop
  retry      a finished job queued again as its next attempt
  prune      finished jobs deleted by age and count
  edit       the fields of a waiting job (`coreflow set`, the TUI's `e`)
  supersede  a trigger's new job takes its waiting predecessor's place
  annotate   labels a running job adds to itself; a finished job's finish-hook outcome
  claims     the runner's: claim, finish, give back, recover (mechanics in claimbase)
  journal    the claims journal (runners/RUNNERID.claims)

Each takes the queue's lock for a consistent view; a person's or a trigger's change
commits through commit.commit (stage, rename, rewrite, directory sync); run order is
store/ordering.py's. The runner's transitions follow layout.py's claim protocol (a
finish writes into its running file, then renames), on the same lock.

The package exports nothing itself: import a family's module, or the public names from
`store` (which loads only the family it is asked for; a name here equal to its module's,
such as `submit`, would be shadowed by that module once imported).
"""
