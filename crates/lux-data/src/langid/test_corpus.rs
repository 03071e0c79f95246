//! A small hand-written parallel test corpus: everyday and news-like sentences in English,
//! Luxembourgish, German and French, plus Luxembourgish/German pairs with typical markers.

use lux_core::Lang;

/// `(en, lb, de, fr)`: the same sentence in four languages.
pub(crate) const CORPUS: &[(&str, &str, &str, &str)] = &[
    (
        "I went into town with my friends yesterday.",
        "Ech si gëschter mat menge Frënn an d'Stad gefuer.",
        "Ich bin gestern mit meinen Freunden in die Stadt gefahren.",
        "Hier, je suis allé en ville avec mes amis.",
    ),
    (
        "The government presented a new law on housing construction.",
        "D'Regierung huet en neit Gesetz iwwer de Wunnengsbau virgestallt.",
        "Die Regierung hat ein neues Gesetz über den Wohnungsbau vorgestellt.",
        "Le gouvernement a présenté une nouvelle loi sur la construction de logements.",
    ),
    (
        "Tomorrow it will rain in the north of the country.",
        "Muer reent et am Norde vum Land.",
        "Morgen regnet es im Norden des Landes.",
        "Demain, il pleuvra dans le nord du pays.",
    ),
    (
        "Can you please close the window?",
        "Kanns du w.e.g. d'Fënster zoumaachen?",
        "Kannst du bitte das Fenster schließen?",
        "Peux-tu fermer la fenêtre, s'il te plaît ?",
    ),
    (
        "My grandmother lives in a small village near the Moselle.",
        "Meng Bomi wunnt an engem klengen Duerf bei der Musel.",
        "Meine Oma wohnt in einem kleinen Dorf an der Mosel.",
        "Ma grand-mère habite dans un petit village près de la Moselle.",
    ),
    (
        "The children play in the garden every afternoon.",
        "D'Kanner spillen all Nomëtteg am Gaart.",
        "Die Kinder spielen jeden Nachmittag im Garten.",
        "Les enfants jouent dans le jardin tous les après-midi.",
    ),
    (
        "I don't know if he is coming today.",
        "Ech weess net, ob hien haut kënnt.",
        "Ich weiß nicht, ob er heute kommt.",
        "Je ne sais pas s'il vient aujourd'hui.",
    ),
    (
        "The bus to Esch leaves at eight o'clock.",
        "De Bus op Esch fiert um aacht Auer of.",
        "Der Bus nach Esch fährt um acht Uhr ab.",
        "Le bus pour Esch part à huit heures.",
    ),
    (
        "We ate fish and drank a glass of white wine.",
        "Mir hunn Fësch giess an e Glas Wäisswäin gedronk.",
        "Wir haben Fisch gegessen und ein Glas Weißwein getrunken.",
        "Nous avons mangé du poisson et bu un verre de vin blanc.",
    ),
    (
        "The museum is closed on Mondays.",
        "De Musée ass méindes zou.",
        "Das Museum ist montags geschlossen.",
        "Le musée est fermé le lundi.",
    ),
    (
        "She works at a bank in Kirchberg.",
        "Si schafft bei enger Bank um Kierchbierg.",
        "Sie arbeitet bei einer Bank auf dem Kirchberg.",
        "Elle travaille dans une banque au Kirchberg.",
    ),
    (
        "How much does a ticket for the concert cost?",
        "Wéi vill kascht en Ticket fir de Concert?",
        "Wie viel kostet eine Karte für das Konzert?",
        "Combien coûte un billet pour le concert ?",
    ),
    (
        "The weather was really nice last week.",
        "D'Wieder war déi lescht Woch wierklech schéin.",
        "Das Wetter war letzte Woche wirklich schön.",
        "Il a vraiment fait beau la semaine dernière.",
    ),
    (
        "School starts again in September.",
        "D'Schoul fänkt am September erëm un.",
        "Die Schule beginnt im September wieder.",
        "L'école reprend en septembre.",
    ),
    (
        "He has been learning Luxembourgish for two years.",
        "Hie léiert zënter zwee Joer Lëtzebuergesch.",
        "Er lernt seit zwei Jahren Luxemburgisch.",
        "Il apprend le luxembourgeois depuis deux ans.",
    ),
    (
        "The doctor said I should stay in bed.",
        "Den Dokter huet gesot, ech soll am Bett bleiwen.",
        "Der Arzt hat gesagt, ich soll im Bett bleiben.",
        "Le médecin m'a dit de rester au lit.",
    ),
    (
        "There is a lot of traffic on the motorway in the morning.",
        "Moies ass vill Verkéier op der Autobunn.",
        "Morgens ist viel Verkehr auf der Autobahn.",
        "Le matin, il y a beaucoup de circulation sur l'autoroute.",
    ),
    (
        "Our neighbours have bought a new car.",
        "Eis Noperen hunn en neien Auto kaaft.",
        "Unsere Nachbarn haben ein neues Auto gekauft.",
        "Nos voisins ont acheté une nouvelle voiture.",
    ),
    (
        "The file could not be saved.",
        "De Fichier konnt net gespäichert ginn.",
        "Die Datei konnte nicht gespeichert werden.",
        "Le fichier n'a pas pu être enregistré.",
    ),
    (
        "Please enter your password again.",
        "Gitt w.e.g. Äert Passwuert nach eng Kéier an.",
        "Bitte geben Sie Ihr Passwort erneut ein.",
        "Veuillez saisir à nouveau votre mot de passe.",
    ),
    (
        "The municipal council meets every Thursday evening.",
        "De Gemengerot trëfft sech all Donneschdeg den Owend.",
        "Der Gemeinderat trifft sich jeden Donnerstagabend.",
        "Le conseil communal se réunit tous les jeudis soir.",
    ),
    (
        "I would like a coffee with milk, please.",
        "Ech hätt gär e Kaffi mat Mëllech, wannechgelift.",
        "Ich hätte gern einen Kaffee mit Milch, bitte.",
        "Je voudrais un café au lait, s'il vous plaît.",
    ),
    (
        "The train was twenty minutes late again.",
        "Den Zuch hat nees zwanzeg Minutte Verspéidung.",
        "Der Zug hatte wieder zwanzig Minuten Verspätung.",
        "Le train avait encore vingt minutes de retard.",
    ),
    (
        "In winter it often snows in the Ösling.",
        "Am Wanter schneit et dacks am Éislek.",
        "Im Winter schneit es oft im Ösling.",
        "En hiver, il neige souvent dans l'Oesling.",
    ),
    (
        "My brother is studying medicine in Strasbourg.",
        "Mäi Brudder studéiert Medezin zu Stroossbuerg.",
        "Mein Bruder studiert Medizin in Straßburg.",
        "Mon frère étudie la médecine à Strasbourg.",
    ),
    (
        "We still have to buy bread and cheese.",
        "Mir mussen nach Brout a Kéis kafen.",
        "Wir müssen noch Brot und Käse kaufen.",
        "Nous devons encore acheter du pain et du fromage.",
    ),
    (
        "The minister answered the journalists' questions.",
        "De Minister huet op d'Froe vun de Journalisten geäntwert.",
        "Der Minister hat die Fragen der Journalisten beantwortet.",
        "Le ministre a répondu aux questions des journalistes.",
    ),
    (
        "It is already late, we should go home.",
        "Et ass scho spéit, mir sollten heem goen.",
        "Es ist schon spät, wir sollten nach Hause gehen.",
        "Il est déjà tard, nous devrions rentrer à la maison.",
    ),
    (
        "The library has many books in three languages.",
        "D'Bibliothéik huet vill Bicher an dräi Sproochen.",
        "Die Bibliothek hat viele Bücher in drei Sprachen.",
        "La bibliothèque possède de nombreux livres en trois langues.",
    ),
    (
        "Where is the nearest pharmacy?",
        "Wou ass déi nächst Apdikt?",
        "Wo ist die nächste Apotheke?",
        "Où se trouve la pharmacie la plus proche ?",
    ),
    (
        "The national holiday is celebrated on 23 June.",
        "Den Nationalfeierdag gëtt den 23. Juni gefeiert.",
        "Der Nationalfeiertag wird am 23. Juni gefeiert.",
        "La fête nationale est célébrée le 23 juin.",
    ),
    (
        "I have to work tomorrow, but on Sunday I am free.",
        "Ech muss muer schaffen, mä e Sonndeg hunn ech fräi.",
        "Ich muss morgen arbeiten, aber am Sonntag habe ich frei.",
        "Je dois travailler demain, mais dimanche je suis libre.",
    ),
    (
        "The prices of flats have risen sharply.",
        "D'Präisser vun den Appartementer sinn staark geklommen.",
        "Die Preise der Wohnungen sind stark gestiegen.",
        "Les prix des appartements ont fortement augmenté.",
    ),
    (
        "He always gets up very early.",
        "Hie steet ëmmer ganz fréi op.",
        "Er steht immer sehr früh auf.",
        "Il se lève toujours très tôt.",
    ),
    (
        "The new tram line goes to the airport.",
        "Déi nei Tramslinn fiert bis op de Fluchhafen.",
        "Die neue Straßenbahnlinie fährt bis zum Flughafen.",
        "La nouvelle ligne de tram va jusqu'à l'aéroport.",
    ),
    (
        "Thank you very much for your help.",
        "Villmools Merci fir Är Hëllef.",
        "Vielen Dank für Ihre Hilfe.",
        "Merci beaucoup pour votre aide.",
    ),
    (
        "Do you know where my keys are?",
        "Weess du, wou meng Schlësselen sinn?",
        "Weißt du, wo meine Schlüssel sind?",
        "Sais-tu où sont mes clés ?",
    ),
    (
        "The football team won the match yesterday evening.",
        "D'Fussballséquipe huet de Match gëschter den Owend gewonnen.",
        "Die Fußballmannschaft hat das Spiel gestern Abend gewonnen.",
        "L'équipe de football a gagné le match hier soir.",
    ),
    (
        "This book is about the history of Luxembourg.",
        "Dëst Buch handelt vun der Geschicht vu Lëtzebuerg.",
        "Dieses Buch handelt von der Geschichte Luxemburgs.",
        "Ce livre parle de l'histoire du Luxembourg.",
    ),
    (
        "The settings have been changed successfully.",
        "D'Astellunge goufe mat Succès geännert.",
        "Die Einstellungen wurden erfolgreich geändert.",
        "Les paramètres ont été modifiés avec succès.",
    ),
    (
        "My sister's children go to school in Diekirch.",
        "D'Kanner vu menger Schwëster ginn zu Dikrech an d'Schoul.",
        "Die Kinder meiner Schwester gehen in Diekirch zur Schule.",
        "Les enfants de ma sœur vont à l'école à Diekirch.",
    ),
    (
        "The shop is open until seven in the evening.",
        "De Buttek ass bis siwen Auer owes op.",
        "Das Geschäft ist bis sieben Uhr abends geöffnet.",
        "Le magasin est ouvert jusqu'à sept heures du soir.",
    ),
    (
        "We are going on holiday to Portugal in August.",
        "Mir fuere am August a Vakanz a Portugal.",
        "Wir fahren im August in den Urlaub nach Portugal.",
        "Nous partons en vacances au Portugal en août.",
    ),
    (
        "The water in the lake is still very cold.",
        "D'Waasser am Séi ass nach ganz kal.",
        "Das Wasser im See ist noch sehr kalt.",
        "L'eau du lac est encore très froide.",
    ),
    (
        "Nobody knows exactly what happened.",
        "Keen weess genee, wat geschitt ass.",
        "Niemand weiß genau, was passiert ist.",
        "Personne ne sait exactement ce qui s'est passé.",
    ),
    (
        "The police closed the road after the accident.",
        "D'Police huet d'Strooss nom Accident gespaart.",
        "Die Polizei hat die Straße nach dem Unfall gesperrt.",
        "La police a fermé la route après l'accident.",
    ),
    (
        "Would you like to eat with us this evening?",
        "Wëlls du haut den Owend mat eis iessen?",
        "Möchtest du heute Abend mit uns essen?",
        "Veux-tu manger avec nous ce soir ?",
    ),
    (
        "The old castle stands on a hill above the river.",
        "Dat aalt Schlass steet op engem Hiwwel iwwert dem Floss.",
        "Das alte Schloss steht auf einem Hügel über dem Fluss.",
        "Le vieux château se dresse sur une colline au-dessus de la rivière.",
    ),
];

/// `(lb, de)`: sentences not in [`CORPUS`] with typical Luxembourgish markers (`ë`, `é`,
/// `ech`, `net`, `d'`, `mat`, `huet`, `gëtt`) and their German equivalents.
pub(crate) const LB_DE_PAIRS: &[(&str, &str)] = &[
    (
        "Hien huet net gewosst, wat hie maache soll.",
        "Er hat nicht gewusst, was er machen soll.",
    ),
    (
        "Ech ginn haut net mat, well ech krank sinn.",
        "Ich gehe heute nicht mit, weil ich krank bin.",
    ),
    (
        "Dat gëtt eng laang Nuecht fir eis all.",
        "Das wird eine lange Nacht für uns alle.",
    ),
    (
        "D'Mamm huet de Kuch mat Äppel gebak.",
        "Die Mutter hat den Kuchen mit Äpfeln gebacken.",
    ),
    (
        "Mir treffen eis muer de Moien um Maart.",
        "Wir treffen uns morgen früh auf dem Markt.",
    ),
    (
        "Wéi geet et dir? Ech hunn dech laang net gesinn.",
        "Wie geht es dir? Ich habe dich lange nicht gesehen.",
    ),
    (
        "D'Schüler schreiwen en Examen an der Geschicht.",
        "Die Schüler schreiben eine Prüfung in Geschichte.",
    ),
    (
        "Et gëtt ëmmer méi Leit, déi mam Vëlo op d'Aarbecht fueren.",
        "Es gibt immer mehr Leute, die mit dem Fahrrad zur Arbeit fahren.",
    ),
    (
        "Hatt huet mir e Bréif aus Amerika geschéckt.",
        "Sie hat mir einen Brief aus Amerika geschickt.",
    ),
    (
        "Ech mengen, datt hien d'Wourecht seet.",
        "Ich glaube, dass er die Wahrheit sagt.",
    ),
    (
        "Den Hond schléift ënnert dem Dësch.",
        "Der Hund schläft unter dem Tisch.",
    ),
    (
        "Kommt Dir och op d'Fest e Samschdeg?",
        "Kommen Sie auch zum Fest am Samstag?",
    ),
];

/// Every sentence of [`CORPUS`] labelled, four per group in the order en, lb, de, fr.
pub(crate) fn samples() -> Vec<(Lang, String)> {
    CORPUS
        .iter()
        .flat_map(|(en, lb, de, fr)| {
            [
                (Lang::EN, en),
                (Lang::LB, lb),
                (Lang::DE, de),
                (Lang::FR, fr),
            ]
            .map(|(l, t)| (l, t.to_string()))
        })
        .collect()
}

/// A model trained on the whole test corpus, shared by the filter tests.
pub(crate) fn model() -> std::sync::Arc<super::LangId> {
    static MODEL: std::sync::OnceLock<std::sync::Arc<super::LangId>> = std::sync::OnceLock::new();
    MODEL
        .get_or_init(|| {
            std::sync::Arc::new(
                super::LangId::train(samples(), super::LangIdConfig::default())
                    .expect("the test corpus trains"),
            )
        })
        .clone()
}

/// Writes the corpus as parallel JSONL (ids `s0`, `s1`…) to `path`.
pub(crate) fn write_parallel_jsonl(path: &std::path::Path) {
    let mut text = String::new();
    for (i, (en, lb, de, fr)) in CORPUS.iter().enumerate() {
        let g = serde_json::json!({
            "id": format!("s{i}"),
            "texts": {"en": en, "lb": lb, "de": de, "fr": fr},
            "provenance": {"source": "test", "license": "CC0-1.0"},
        });
        text.push_str(&g.to_string());
        text.push('\n');
    }
    std::fs::write(path, text).expect("writing the test corpus");
}
