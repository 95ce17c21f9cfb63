hello ${b}
