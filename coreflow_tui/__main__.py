from coreflow_tui.cli import main

raise SystemExit(main())
