from loopbound.warm import entry

entry()
