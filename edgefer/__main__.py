from edgefer.cli.main import main

main()
