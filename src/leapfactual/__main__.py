from leapfactual.cli.console import main

main()
