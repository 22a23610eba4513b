from leapfactual.cli.app import main

main()
