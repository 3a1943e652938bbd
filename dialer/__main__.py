from dialer.cli import main

raise SystemExit(main())
