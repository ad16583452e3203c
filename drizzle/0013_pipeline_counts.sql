CREATE TABLE `pipeline_counts` (
	`repo` text NOT NULL,
	`kind` text NOT NULL,
	`count` integer NOT NULL,
	PRIMARY KEY(`repo`, `kind`)
);
--> statement-breakpoint
INSERT INTO `pipeline_counts` (`repo`, `kind`, `count`)
  SELECT `repo`, `kind`, count(*) FROM `pipelines` GROUP BY `repo`, `kind`;--> statement-breakpoint
CREATE TRIGGER `pipeline_counts_insert` AFTER INSERT ON `pipelines` BEGIN
  INSERT INTO `pipeline_counts` (`repo`, `kind`, `count`) VALUES (NEW.`repo`, NEW.`kind`, 1)
    ON CONFLICT (`repo`, `kind`) DO UPDATE SET `count` = `count` + 1;
END;--> statement-breakpoint
CREATE TRIGGER `pipeline_counts_update` AFTER UPDATE OF `repo`, `kind` ON `pipelines`
  WHEN OLD.`repo` <> NEW.`repo` OR OLD.`kind` <> NEW.`kind` BEGIN
  UPDATE `pipeline_counts` SET `count` = `count` - 1 WHERE `repo` = OLD.`repo` AND `kind` = OLD.`kind`;
  INSERT INTO `pipeline_counts` (`repo`, `kind`, `count`) VALUES (NEW.`repo`, NEW.`kind`, 1)
    ON CONFLICT (`repo`, `kind`) DO UPDATE SET `count` = `count` + 1;
END;--> statement-breakpoint
CREATE TRIGGER `pipeline_counts_delete` AFTER DELETE ON `pipelines` BEGIN
  UPDATE `pipeline_counts` SET `count` = `count` - 1 WHERE `repo` = OLD.`repo` AND `kind` = OLD.`kind`;
END;
