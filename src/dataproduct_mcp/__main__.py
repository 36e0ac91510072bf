from dataproduct_mcp.cli import main

raise SystemExit(main())
