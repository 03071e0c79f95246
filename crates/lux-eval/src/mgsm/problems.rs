//! The bundled MGSM-style set: templated arithmetic word problems in en, lb, de and fr.
//!
//! Thirteen templates (giving away, shopping, change, speed × time, walking, ages,
//! multiples of an age, sharing, reading rate, filling rate, saving, baking, price per
//! kilogram) are filled with numbers drawn from a seeded generator; every answer is computed
//! in code, and the same problem has the same id in all four languages. The Luxembourgish
//! follows the n-rule (Eifeler Reegel: `Hie gëtt`, `Hien huet`, `den Tom`, `de Luc`), treats
//! girls' first names as neuter (`d'Anna … hatt … dem Anna`), and writes decimal commas.
//!
//! The committed file `data/mgsm_mini.jsonl` is `generate(&MgsmMiniConfig::default())`; a
//! test checks that it still is. [`bundled`] reads it from inside the binary.

use std::io::Write as _;
use std::path::Path;

use lux_core::rng::{self, SplitMix64};
use lux_core::{Error, IoContext, Lang, Result};
use serde::{Deserialize, Serialize};

use super::Number;

/// One problem in one language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MgsmProblem {
    /// The problem's id, shared by its four languages (`mgsm-mini-007`).
    pub id: String,
    /// The template it was made from (`shopping_total`).
    pub template: String,
    /// The language of `question`.
    pub lang: Lang,
    /// The word problem.
    pub question: String,
    /// The correct answer.
    pub answer: Number,
}

/// Settings of [`generate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MgsmMiniConfig {
    /// Seed of the number generator (default 2024).
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Problems per template (default 4, so 52 problems, 208 lines).
    #[serde(default = "default_per_template")]
    pub per_template: usize,
}

fn default_seed() -> u64 {
    2024
}

fn default_per_template() -> usize {
    4
}

impl Default for MgsmMiniConfig {
    fn default() -> Self {
        MgsmMiniConfig {
            seed: default_seed(),
            per_template: default_per_template(),
        }
    }
}

/// The languages of the set, in the order their lines are written.
pub const LANGUAGES: [&str; 4] = ["en", "lb", "de", "fr"];

/// The committed set, `data/mgsm_mini.jsonl`, compiled into the crate.
const BUNDLED: &str = include_str!("../../data/mgsm_mini.jsonl");

/// The bundled set (52 problems × 4 languages), parsed.
pub fn bundled() -> Result<Vec<MgsmProblem>> {
    BUNDLED
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l)
                .map_err(|e| Error::at_line("data/mgsm_mini.jsonl", i + 1, e.to_string()))
        })
        .collect()
}

/// Makes the set: `per_template` problems per template, each in en, lb, de and fr.
pub fn generate(config: &MgsmMiniConfig) -> Result<Vec<MgsmProblem>> {
    if config.per_template == 0 {
        return Err(Error::invalid(
            "mgsm_mini.per_template",
            "must be at least 1",
        ));
    }
    let mut out = Vec::new();
    let mut index = 0;
    for (name, template) in TEMPLATES {
        for k in 0..config.per_template {
            index += 1;
            let mut rng = SplitMix64::new(rng::hash(config.seed, &format!("{name}#{k}")));
            let (texts, answer) = template(&mut rng);
            let id = format!("mgsm-mini-{index:03}");
            for (code, question) in LANGUAGES.iter().zip(texts) {
                out.push(MgsmProblem {
                    id: id.clone(),
                    template: name.to_string(),
                    lang: Lang::new(code)?,
                    question,
                    answer,
                });
            }
        }
    }
    Ok(out)
}

/// Writes `problems` as JSON Lines to `path` (one problem per line).
pub fn write_jsonl(problems: &[MgsmProblem], path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    let mut buf = Vec::new();
    for p in problems {
        serde_json::to_writer(&mut buf, p).map_err(|e| Error::other("writing a problem", e))?;
        buf.push(b'\n');
    }
    let mut f = std::fs::File::create(path).with_path(path)?;
    f.write_all(&buf).with_path(path)
}

// ---------------------------------------------------------------------------------------------
// People

#[derive(Debug, Clone, Copy, PartialEq)]
struct Person {
    name: &'static str,
    female: bool,
}

const PEOPLE: [Person; 14] = [
    Person {
        name: "Anna",
        female: true,
    },
    Person {
        name: "Marie",
        female: true,
    },
    Person {
        name: "Lena",
        female: true,
    },
    Person {
        name: "Sophie",
        female: true,
    },
    Person {
        name: "Emma",
        female: true,
    },
    Person {
        name: "Claire",
        female: true,
    },
    Person {
        name: "Laura",
        female: true,
    },
    Person {
        name: "Tom",
        female: false,
    },
    Person {
        name: "Luc",
        female: false,
    },
    Person {
        name: "Paul",
        female: false,
    },
    Person {
        name: "Max",
        female: false,
    },
    Person {
        name: "Ben",
        female: false,
    },
    Person {
        name: "Marc",
        female: false,
    },
    Person {
        name: "David",
        female: false,
    },
];

/// Drops a final `n` before a word that starts with a consonant other than n, d, t, z, h
/// (the Luxembourgish n-rule): `hien` + `gëtt` → `hie gëtt`, `den` + `Luc` → `de Luc`.
fn n_rule(word: &str, next: &str) -> String {
    let keeps = next.chars().next().is_none_or(|c| {
        let c = c.to_lowercase().next().unwrap_or(c);
        !c.is_alphabetic() || "aeiouäëéöüyndtzh".contains(c)
    });
    match word.strip_suffix('n') {
        Some(stem) if !keeps => stem.to_string(),
        _ => word.to_string(),
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

impl Person {
    /// Luxembourgish nominative/accusative with article: `d'Anna`, `den Tom`, `de Luc`.
    fn lb(&self) -> String {
        if self.female {
            format!("d'{}", self.name)
        } else {
            format!("{} {}", n_rule("den", self.name), self.name)
        }
    }

    fn lb_cap(&self) -> String {
        capitalize(&self.lb())
    }

    /// Luxembourgish dative: `dem Anna`, `dem Tom`.
    fn lb_dat(&self) -> String {
        format!("dem {}", self.name)
    }

    /// Luxembourgish subject pronoun before `next`: `Hatt`, `Hien`/`Hie`.
    fn lb_pron(&self, next: &str) -> String {
        if self.female {
            "Hatt".into()
        } else {
            n_rule("Hien", next)
        }
    }

    fn en_pron(&self) -> &'static str {
        if self.female { "She" } else { "He" }
    }

    fn en_poss(&self) -> &'static str {
        if self.female { "her" } else { "his" }
    }

    fn de_pron(&self) -> &'static str {
        if self.female { "Sie" } else { "Er" }
    }

    fn de_poss(&self) -> &'static str {
        if self.female { "ihre" } else { "seine" }
    }

    fn fr_pron(&self) -> &'static str {
        if self.female { "elle" } else { "il" }
    }

    fn fr_pron_cap(&self) -> &'static str {
        if self.female { "Elle" } else { "Il" }
    }

    fn starts_with_vowel(&self) -> bool {
        self.name.starts_with(['A', 'E', 'I', 'O', 'U', 'É'])
    }

    /// French `que`/`de` before the name, elided before a vowel: `qu'Anna`, `que Tom`.
    fn fr_after(&self, word: &str) -> String {
        if self.starts_with_vowel() {
            format!("{}'{}", &word[..word.len() - 1], self.name)
        } else {
            format!("{word} {}", self.name)
        }
    }
}

fn range(rng: &mut SplitMix64, lo: i64, hi: i64) -> i64 {
    lo + rng.below((hi - lo + 1) as usize) as i64
}

fn two_people(rng: &mut SplitMix64) -> (Person, Person) {
    let a = PEOPLE[rng.below(PEOPLE.len())];
    let mut b = PEOPLE[rng.below(PEOPLE.len() - 1)];
    if b == a {
        b = PEOPLE[PEOPLE.len() - 1];
    }
    (a, b)
}

fn one_person(rng: &mut SplitMix64) -> Person {
    PEOPLE[rng.below(PEOPLE.len())]
}

// ---------------------------------------------------------------------------------------------
// Templates: each returns the question in en, lb, de, fr and the answer.

type Template = fn(&mut SplitMix64) -> ([String; 4], Number);

const TEMPLATES: [(&str, Template); 13] = [
    ("give_away", give_away),
    ("shopping_total", shopping_total),
    ("shopping_change", shopping_change),
    ("train_distance", train_distance),
    ("walking_days", walking_days),
    ("age_later", age_later),
    ("age_multiple", age_multiple),
    ("share_sweets", share_sweets),
    ("reading_days", reading_days),
    ("tank_filling", tank_filling),
    ("saving_weeks", saving_weeks),
    ("baking_eggs", baking_eggs),
    ("price_per_kilo", price_per_kilo),
];

fn give_away(rng: &mut SplitMix64) -> ([String; 4], Number) {
    let (a, b) = two_people(rng);
    let have = range(rng, 8, 40);
    let give = range(rng, 2, have - 2);
    let t = [
        format!(
            "{} has {have} apples. {} gives {give} of them to {}. How many apples does {} have now?",
            a.name,
            a.en_pron(),
            b.name,
            a.name
        ),
        format!(
            "{} huet {have} Äppel. {} gëtt {} {give} dovun. Wéi vill Äppel huet {} elo?",
            a.lb_cap(),
            a.lb_pron("gëtt"),
            b.lb_dat(),
            a.lb()
        ),
        format!(
            "{} hat {have} Äpfel. {} gibt {} {give} davon. Wie viele Äpfel hat {} jetzt?",
            a.name,
            a.de_pron(),
            b.name,
            a.name
        ),
        format!(
            "{} a {have} pommes. {} en donne {give} à {}. Combien de pommes {} a-t-{} maintenant ?",
            a.name,
            a.fr_pron_cap(),
            b.name,
            a.name,
            a.fr_pron()
        ),
    ];
    (t, Number::integer(have - give))
}

fn shopping_total(rng: &mut SplitMix64) -> ([String; 4], Number) {
    let a = one_person(rng);
    let n = range(rng, 2, 9);
    let p = range(rng, 2, 12);
    let t = [
        format!(
            "{} buys {n} notebooks. Each notebook costs {p} euros. How many euros does {} pay in total?",
            a.name, a.name
        ),
        format!(
            "{} keeft {n} Hefter. All Heft kascht {p} Euro. Wéi vill Euro bezilt {} am Ganzen?",
            a.lb_cap(),
            a.lb()
        ),
        format!(
            "{} kauft {n} Hefte. Jedes Heft kostet {p} Euro. Wie viel Euro bezahlt {} insgesamt?",
            a.name, a.name
        ),
        format!(
            "{} achète {n} cahiers. Chaque cahier coûte {p} euros. Combien d'euros {} paie-t-{} en tout ?",
            a.name,
            a.name,
            a.fr_pron()
        ),
    ];
    (t, Number::integer(n * p))
}

fn shopping_change(rng: &mut SplitMix64) -> ([String; 4], Number) {
    let a = one_person(rng);
    let n = range(rng, 2, 6);
    let p = range(rng, 3, 15);
    let note = if n * p < 50 { 50 } else { 100 };
    let t = [
        format!(
            "{} buys {n} books at {p} euros each and pays with a {note}-euro note. How many euros of change does {} get back?",
            a.name, a.name
        ),
        format!(
            "{} keeft {n} Bicher fir {p} Euro d'Stéck a bezilt mat engem {note}-Euro-Schäin. Wéi vill Euro kritt {} erëm?",
            a.lb_cap(),
            a.lb()
        ),
        format!(
            "{} kauft {n} Bücher zu je {p} Euro und bezahlt mit einem {note}-Euro-Schein. Wie viel Euro Wechselgeld bekommt {} zurück?",
            a.name, a.name
        ),
        format!(
            "{} achète {n} livres à {p} euros pièce et paie avec un billet de {note} euros. Combien d'euros de monnaie {} reçoit-{} ?",
            a.name,
            a.name,
            a.fr_pron()
        ),
    ];
    (t, Number::integer(note - n * p))
}

fn train_distance(rng: &mut SplitMix64) -> ([String; 4], Number) {
    let hours = range(rng, 2, 6);
    let speed = 10 * range(rng, 4, 12);
    let t = [
        format!(
            "A train travels for {hours} hours at {speed} kilometres per hour. How many kilometres does the train travel?"
        ),
        format!(
            "En Zuch fiert {hours} Stonnen am Stéck mat {speed} Kilometer an der Stonn. Wéi vill Kilometer fiert den Zuch?"
        ),
        format!(
            "Ein Zug fährt {hours} Stunden lang mit {speed} Kilometern pro Stunde. Wie viele Kilometer legt der Zug zurück?"
        ),
        format!(
            "Un train roule pendant {hours} heures à {speed} kilomètres par heure. Combien de kilomètres le train parcourt-il ?"
        ),
    ];
    (t, Number::integer(hours * speed))
}

fn walking_days(rng: &mut SplitMix64) -> ([String; 4], Number) {
    let a = one_person(rng);
    let morning = range(rng, 2, 5);
    let evening = range(rng, 1, 4);
    let days = range(rng, 3, 7);
    let t = [
        format!(
            "Every day, {} walks {morning} km in the morning and {evening} km in the evening. How many kilometres has {} walked after {days} days?",
            a.name, a.name
        ),
        format!(
            "{} geet all Dag moies {morning} km an owes {evening} km zu Fouss. Wéi vill Kilometer ass {} no {days} Deeg zu Fouss gaangen?",
            a.lb_cap(),
            a.lb()
        ),
        format!(
            "{} geht jeden Tag morgens {morning} km und abends {evening} km zu Fuß. Wie viele Kilometer ist {} nach {days} Tagen zu Fuß gegangen?",
            a.name, a.name
        ),
        format!(
            "Chaque jour, {} marche {morning} km le matin et {evening} km le soir. Combien de kilomètres {} a-t-{} parcourus à pied après {days} jours ?",
            a.name,
            a.name,
            a.fr_pron()
        ),
    ];
    (t, Number::integer((morning + evening) * days))
}

fn age_later(rng: &mut SplitMix64) -> ([String; 4], Number) {
    let (a, b) = two_people(rng);
    let age = range(rng, 5, 15);
    let older = range(rng, 2, 10);
    let later = range(rng, 2, 10);
    let t = [
        format!(
            "{} is {age} years old. {} is {older} years older than {}. How old will {} be in {later} years?",
            a.name, b.name, a.name, b.name
        ),
        format!(
            "{} ass {age} Joer al. {} ass {older} Joer méi al wéi {}. Wéi al ass {} {later} Joer méi spéit?",
            a.lb_cap(),
            b.lb_cap(),
            a.lb(),
            b.lb()
        ),
        format!(
            "{} ist {age} Jahre alt. {} ist {older} Jahre älter als {}. Wie alt ist {} in {later} Jahren?",
            a.name, b.name, a.name, b.name
        ),
        format!(
            "{} a {age} ans. {} a {older} ans de plus {}. Quel âge {} aura-t-{} dans {later} ans ?",
            a.name,
            b.name,
            a.fr_after("que"),
            b.name,
            b.fr_pron()
        ),
    ];
    (t, Number::integer(age + older + later))
}

fn age_multiple(rng: &mut SplitMix64) -> ([String; 4], Number) {
    let a = one_person(rng);
    let age = range(rng, 6, 12);
    let times = range(rng, 5, 8);
    let t = [
        format!(
            "{} is {age} years old. {} grandmother is {times} times as old as {}. How old is {} grandmother?",
            a.name,
            capitalize(a.en_poss()),
            a.name,
            a.en_poss()
        ),
        format!(
            "{} ass {age} Joer al. D'Bomi ass {times} Mol esou al wéi {}. Wéi al ass d'Bomi?",
            a.lb_cap(),
            a.lb()
        ),
        format!(
            "{} ist {age} Jahre alt. {} Oma ist {times}-mal so alt wie {}. Wie alt ist {} Oma?",
            a.name,
            capitalize(a.de_poss()),
            a.name,
            a.de_poss()
        ),
        format!(
            "{} a {age} ans. Sa grand-mère a {times} fois son âge. Quel âge a sa grand-mère ?",
            a.name
        ),
    ];
    (t, Number::integer(age * times))
}

fn share_sweets(rng: &mut SplitMix64) -> ([String; 4], Number) {
    let a = one_person(rng);
    let friends = range(rng, 3, 8);
    let each = range(rng, 3, 12);
    let total = friends * each;
    let t = [
        format!(
            "{} has {total} sweets and shares them equally among {friends} friends. How many sweets does each friend get?",
            a.name
        ),
        format!(
            "{} huet {total} Bonbonen an deelt se gerecht ënner {friends} Frënn op. Wéi vill Bonbonen huet dann all Frënd?",
            a.lb_cap()
        ),
        format!(
            "{} hat {total} Bonbons und teilt sie gerecht unter {friends} Freunden auf. Wie viele Bonbons bekommt jeder Freund?",
            a.name
        ),
        format!(
            "{} a {total} bonbons et les partage équitablement entre {friends} amis. Combien de bonbons chaque ami reçoit-il ?",
            a.name
        ),
    ];
    (t, Number::integer(each))
}

fn reading_days(rng: &mut SplitMix64) -> ([String; 4], Number) {
    let a = one_person(rng);
    let per_day = [10, 12, 15, 20, 25, 30][rng.below(6)];
    let days = range(rng, 4, 15);
    let pages = per_day * days;
    let t = [
        format!(
            "{} reads {per_day} pages every day. The book has {pages} pages. How many days does {} need to finish the book?",
            a.name, a.name
        ),
        format!(
            "{} liest all Dag {per_day} Säiten. D'Buch huet {pages} Säiten. Wéi vill Deeg brauch {}, fir d'Buch auszeliesen?",
            a.lb_cap(),
            a.lb()
        ),
        format!(
            "{} liest jeden Tag {per_day} Seiten. Das Buch hat {pages} Seiten. Wie viele Tage braucht {}, um das Buch zu Ende zu lesen?",
            a.name, a.name
        ),
        format!(
            "{} lit {per_day} pages par jour. Le livre a {pages} pages. Combien de jours faut-il à {} pour finir le livre ?",
            a.name, a.name
        ),
    ];
    (t, Number::integer(days))
}

fn tank_filling(rng: &mut SplitMix64) -> ([String; 4], Number) {
    let start = range(rng, 10, 100);
    let rate = range(rng, 2, 15);
    let minutes = range(rng, 5, 30);
    let t = [
        format!(
            "A tank already holds {start} litres of water. A tap adds {rate} litres every minute. How many litres are in the tank after {minutes} minutes?"
        ),
        format!(
            "An engem Tank si schonn {start} Liter Waasser. E Krunn fëllt all Minutt {rate} Liter no. Wéi vill Liter sinn no {minutes} Minutten am Tank?"
        ),
        format!(
            "In einem Tank sind schon {start} Liter Wasser. Ein Hahn füllt jede Minute {rate} Liter nach. Wie viele Liter sind nach {minutes} Minuten im Tank?"
        ),
        format!(
            "Un réservoir contient déjà {start} litres d'eau. Un robinet y ajoute {rate} litres par minute. Combien de litres y a-t-il dans le réservoir après {minutes} minutes ?"
        ),
    ];
    (t, Number::integer(start + rate * minutes))
}

fn saving_weeks(rng: &mut SplitMix64) -> ([String; 4], Number) {
    let a = one_person(rng);
    let weekly = range(rng, 5, 25);
    let weeks = range(rng, 3, 12);
    let saved = range(rng, 10, 80);
    let price = saved + weekly * weeks;
    let t = [
        format!(
            "{} wants to buy a bike that costs {price} euros. {} already has {saved} euros and saves {weekly} euros every week. How many weeks does it take until {} can buy the bike?",
            a.name,
            a.en_pron(),
            a.name
        ),
        format!(
            "{} wëll e Vëlo fir {price} Euro kafen. {} huet schonn {saved} Euro a spuert all Woch {weekly} Euro. Wéi vill Wochen dauert et, bis {} de Vëlo kafe kann?",
            a.lb_cap(),
            a.lb_pron("huet"),
            a.lb()
        ),
        format!(
            "{} möchte ein Fahrrad für {price} Euro kaufen. {} hat schon {saved} Euro und spart jede Woche {weekly} Euro. Wie viele Wochen dauert es, bis {} das Fahrrad kaufen kann?",
            a.name,
            a.de_pron(),
            a.name
        ),
        format!(
            "{} veut acheter un vélo à {price} euros. {} a déjà {saved} euros et économise {weekly} euros par semaine. Combien de semaines faut-il à {} pour pouvoir acheter le vélo ?",
            a.name,
            a.fr_pron_cap(),
            a.name
        ),
    ];
    (t, Number::integer(weeks))
}

fn baking_eggs(rng: &mut SplitMix64) -> ([String; 4], Number) {
    let a = one_person(rng);
    let per_cake = range(rng, 2, 5);
    let cakes = range(rng, 2, 4);
    let left = range(rng, 1, 10);
    let eggs = per_cake * cakes + left;
    let t = [
        format!(
            "{} has {eggs} eggs. A cake needs {per_cake} eggs. {} bakes {cakes} cakes. How many eggs are left?",
            a.name,
            a.en_pron()
        ),
        format!(
            "{} huet {eggs} Eeër. E Kuch brauch {per_cake} Eeër. {} bäckt {cakes} Kuchen. Wéi vill Eeër bleiwen iwwreg?",
            a.lb_cap(),
            a.lb_pron("bäckt")
        ),
        format!(
            "{} hat {eggs} Eier. Ein Kuchen braucht {per_cake} Eier. {} backt {cakes} Kuchen. Wie viele Eier bleiben übrig?",
            a.name,
            a.de_pron()
        ),
        format!(
            "{} a {eggs} œufs. Un gâteau demande {per_cake} œufs. {} prépare {cakes} gâteaux. Combien d'œufs lui reste-t-il ?",
            a.name,
            a.fr_pron_cap()
        ),
    ];
    (t, Number::integer(left))
}

fn price_per_kilo(rng: &mut SplitMix64) -> ([String; 4], Number) {
    let a = one_person(rng);
    let kilos = range(rng, 2, 6);
    // Prices in cents, all multiples of 25 so every answer is an exact binary fraction too.
    let cents = [125, 150, 175, 225, 250, 275, 350, 375][rng.below(8)];
    let point = format!("{}.{:02}", cents / 100, cents % 100);
    let comma = point.replace('.', ",");
    let t = [
        format!(
            "{} buys {kilos} kilograms of apples. One kilogram costs {point} euros. How many euros does {} pay?",
            a.name, a.name
        ),
        format!(
            "{} keeft {kilos} Kilo Äppel. E Kilo kascht {comma} Euro. Wéi vill Euro bezilt {}?",
            a.lb_cap(),
            a.lb()
        ),
        format!(
            "{} kauft {kilos} Kilogramm Äpfel. Ein Kilogramm kostet {comma} Euro. Wie viel Euro bezahlt {}?",
            a.name, a.name
        ),
        format!(
            "{} achète {kilos} kilos de pommes. Un kilo coûte {comma} euros. Combien d'euros {} paie-t-{} ?",
            a.name,
            a.name,
            a.fr_pron()
        ),
    ];
    let answer = Number::new(i128::from(kilos * cents), 2).unwrap_or(Number::integer(0));
    (t, answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luxembourgish_n_rule() {
        assert_eq!(n_rule("Hien", "gëtt"), "Hie");
        assert_eq!(n_rule("Hien", "huet"), "Hien");
        assert_eq!(n_rule("den", "Tom"), "den");
        assert_eq!(n_rule("den", "David"), "den");
        assert_eq!(n_rule("den", "Luc"), "de");
        assert_eq!(n_rule("den", "Anna"), "den");
        let tom = Person {
            name: "Tom",
            female: false,
        };
        let luc = Person {
            name: "Luc",
            female: false,
        };
        let anna = Person {
            name: "Anna",
            female: true,
        };
        assert_eq!(
            (tom.lb_cap(), luc.lb(), anna.lb(), anna.lb_dat()),
            (
                "Den Tom".into(),
                "de Luc".into(),
                "d'Anna".into(),
                "dem Anna".into()
            )
        );
        assert_eq!(anna.fr_after("que"), "qu'Anna");
        assert_eq!(tom.fr_after("que"), "que Tom");
        assert_eq!(anna.fr_after("de"), "d'Anna");
    }
}
