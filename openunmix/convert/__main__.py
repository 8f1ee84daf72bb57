from openunmix.commands.convert import main

raise SystemExit(main())
