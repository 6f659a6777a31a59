from fleet_hive.cli import main

main()
