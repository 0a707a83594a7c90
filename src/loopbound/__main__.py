from loopbound.cli import main

main()
