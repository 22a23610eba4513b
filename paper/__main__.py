from paper.cli.app import main

main()
