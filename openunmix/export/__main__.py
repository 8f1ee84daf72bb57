from openunmix.commands.export import main

raise SystemExit(main())
