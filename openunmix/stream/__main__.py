from openunmix.commands.stream import main

raise SystemExit(main())
