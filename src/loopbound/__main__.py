from loopbound.warm import main

main()
